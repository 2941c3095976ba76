-- description: after the load of ds, every raw row's hashdiff is its key's current satellite hashdiff
SELECT 'cars' AS entity, r.id FROM {{ source('cars') }} r
WHERE r.processing_date = :ds AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_car_current') }} s WHERE s.hk_car = r.hk_car AND s.hashdiff = r.hashdiff)
UNION ALL
SELECT 'customers', r.id FROM {{ source('customers') }} r
WHERE r.processing_date = :ds AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_customer_current') }} s WHERE s.hk_customer = r.hk_customer AND s.hashdiff = r.hashdiff)
UNION ALL
SELECT 'subscriptions', r.id FROM {{ source('subscriptions') }} r
WHERE r.processing_date = :ds AND NOT EXISTS (SELECT 1 FROM {{ ref('sat_subscription_current') }} s WHERE s.hk_subscription = r.hk_subscription AND s.hashdiff = r.hashdiff)
