-- description: every hub key this load added from its entity's own source has a satellite row, so a current one (keys only referenced by a subscription are reported by unknown_subscription_parties). Hubs and satellites are insert-only, so a key an earlier load added was checked by that load and still holds: the test reads this load's hub rows only (hub index on load_date).
SELECT 'car' AS entity, h.car_id AS id FROM {{ ref('hub_car') }} h
WHERE h.load_date = :load_date AND h.record_source = 'raw.cars' AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_car') }} s WHERE s.hk_car = h.hk_car)
UNION ALL
SELECT 'customer', h.customer_id FROM {{ ref('hub_customer') }} h
WHERE h.load_date = :load_date AND h.record_source = 'raw.customers' AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_customer') }} s WHERE s.hk_customer = h.hk_customer)
UNION ALL
SELECT 'customer personal data', h.customer_id FROM {{ ref('hub_customer') }} h
WHERE h.load_date = :load_date AND h.record_source = 'raw.customers' AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_customer_pii') }} s WHERE s.hk_customer = h.hk_customer)
UNION ALL
SELECT 'subscription', h.subscription_id FROM {{ ref('hub_subscription') }} h
WHERE h.load_date = :load_date AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_subscription') }} s WHERE s.hk_subscription = h.hk_subscription)
