-- materialized: table
-- description: every current car with its registration and deregistration days (UTC), indexed for the daily fleet marts
-- columns: id TEXT NOT NULL, hk_car TEXT NOT NULL, brand TEXT, registration_day TEXT, deregistration_day TEXT
-- indexes: registration_day; deregistration_day
SELECT c.id, c.hk_car, c.brand,
       {{ day('c.registration_date') }} AS registration_day,
       {{ day('c.deregistration_date') }} AS deregistration_day
FROM {{ ref('sat_car_current') }} c
