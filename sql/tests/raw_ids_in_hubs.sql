-- description: every id of the ds's raw partitions has its hub key (raw ids = hub keys)
SELECT 'cars' AS entity, r.id FROM {{ source('cars') }} r
WHERE r.processing_date = :ds AND NOT EXISTS (SELECT 1 FROM {{ ref('hub_car') }} h WHERE h.hk_car = r.hk_car)
UNION ALL
SELECT 'customers', r.id FROM {{ source('customers') }} r
WHERE r.processing_date = :ds AND NOT EXISTS (SELECT 1 FROM {{ ref('hub_customer') }} h WHERE h.hk_customer = r.hk_customer)
UNION ALL
SELECT 'subscriptions', r.id FROM {{ source('subscriptions') }} r
WHERE r.processing_date = :ds AND NOT EXISTS (SELECT 1 FROM {{ ref('hub_subscription') }} h WHERE h.hk_subscription = r.hk_subscription)
