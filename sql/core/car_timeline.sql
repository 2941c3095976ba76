-- materialized: keyed
-- description: every current car with its brand and registration and deregistration days (UTC): a narrow table the fleet marts and the subscription timeline read
-- columns: hk_car TEXT NOT NULL, id TEXT NOT NULL, brand TEXT, registration_day TEXT, deregistration_day TEXT
-- primary_key: hk_car
-- indexes: registration_day; deregistration_day
-- Keyed: after the first build a run re-derives only the cars whose satellite got a row since the
-- last run (the second statement), instead of a million rows a day.
SELECT c.hk_car, c.id, c.brand,
       {{ day('c.registration_date') }} AS registration_day,
       {{ day('c.deregistration_date') }} AS deregistration_day
FROM {{ ref('sat_car_current') }} c;

SELECT s.hk_car FROM {{ ref('sat_car') }} s WHERE s.load_date IN {{ loads('sat_car') }}
