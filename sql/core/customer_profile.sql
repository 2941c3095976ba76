-- materialized: keyed
-- description: every current customer's type and city: a narrow table the subscription timeline joins (cheap to probe by hash key)
-- columns: hk_customer TEXT NOT NULL, id TEXT NOT NULL, type TEXT, address_city TEXT
-- primary_key: hk_customer
-- Keyed: a run re-derives only the customers whose satellite got a row since the last run.
SELECT c.hk_customer, c.id, c.type, c.address_city
FROM {{ ref('sat_customer_current') }} c;

SELECT s.hk_customer FROM {{ ref('sat_customer') }} s WHERE s.load_date IN {{ loads('sat_customer') }}
