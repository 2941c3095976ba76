-- description: every hub key loaded from its entity's own source has a satellite row, so a current one (keys only referenced by a subscription are reported by unknown_subscription_parties)
SELECT 'car' AS entity, h.car_id AS id FROM {{ ref('hub_car') }} h
WHERE h.record_source = 'raw.cars' AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_car') }} s WHERE s.hk_car = h.hk_car)
UNION ALL
SELECT 'customer', h.customer_id FROM {{ ref('hub_customer') }} h
WHERE h.record_source = 'raw.customers' AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_customer') }} s WHERE s.hk_customer = h.hk_customer)
UNION ALL
SELECT 'subscription', h.subscription_id FROM {{ ref('hub_subscription') }} h
WHERE NOT EXISTS (SELECT 1 FROM {{ ref('sat_subscription') }} s WHERE s.hk_subscription = h.hk_subscription)
