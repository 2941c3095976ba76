-- description: every id of the ds's raw partitions has its hub key (raw ids = hub keys)
-- Each partition's keys are sorted before the hub is probed, so the probes walk the hub's B-tree in
-- order instead of reading a random page per row (hash keys are random).
WITH cars_keys AS MATERIALIZED (SELECT r.id, r.hk_car AS hk FROM {{ source('cars') }} r WHERE r.processing_date = :ds ORDER BY r.hk_car),
customers_keys AS MATERIALIZED (SELECT r.id, r.hk_customer AS hk FROM {{ source('customers') }} r WHERE r.processing_date = :ds ORDER BY r.hk_customer),
subscriptions_keys AS MATERIALIZED (SELECT r.id, r.hk_subscription AS hk FROM {{ source('subscriptions') }} r WHERE r.processing_date = :ds ORDER BY r.hk_subscription)
SELECT 'cars' AS entity, r.id FROM cars_keys r WHERE NOT EXISTS (SELECT 1 FROM {{ ref('hub_car') }} h WHERE h.hk_car = r.hk)
UNION ALL
SELECT 'customers', r.id FROM customers_keys r WHERE NOT EXISTS (SELECT 1 FROM {{ ref('hub_customer') }} h WHERE h.hk_customer = r.hk)
UNION ALL
SELECT 'subscriptions', r.id FROM subscriptions_keys r WHERE NOT EXISTS (SELECT 1 FROM {{ ref('hub_subscription') }} h WHERE h.hk_subscription = r.hk)
