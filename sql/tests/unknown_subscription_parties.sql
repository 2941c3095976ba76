-- severity: warn
-- description: subscriptions whose customer or car is unknown (not in the current satellites); they count in no mart. A warning, not a failure: the marts define this case, and blocking them would stop every report for one bad source row.
SELECT s.id, s.customer_id, s.car_id,
       CASE WHEN c.hk_customer IS NULL THEN 'unknown customer' ELSE 'unknown car' END AS reason
FROM {{ ref('sat_subscription_current') }} s
LEFT JOIN {{ ref('sat_customer_current') }} c ON c.hk_customer = s.hk_customer
LEFT JOIN {{ ref('sat_car_current') }} r ON r.hk_car = s.hk_car
WHERE c.hk_customer IS NULL OR r.hk_car IS NULL
