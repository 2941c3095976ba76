-- materialized: view
-- description: the latest version of every subscription with its customer_id and car_id (from its latest link), source field names
SELECT h.subscription_id AS id, hc.customer_id, hr.car_id,
       s.created_at, s.start_date, s.term_month, s.monthly_rate,
       s.hk_subscription, l.hk_customer, l.hk_car, s.load_date, s.hashdiff
FROM {{ ref('sat_subscription') }} s
JOIN {{ ref('hub_subscription') }} h ON h.hk_subscription = s.hk_subscription
-- the subscription's latest link (ties broken by the link key); a subscription whose customer or car
-- id was missing has no link: it stays, with null ids (unknown)
LEFT JOIN {{ ref('link_subscription') }} l ON l.hk_subscription = s.hk_subscription
  AND NOT EXISTS (SELECT 1 FROM {{ ref('link_subscription') }} x WHERE x.hk_subscription = l.hk_subscription
    AND (x.load_date > l.load_date OR (x.load_date = l.load_date AND x.hk_subscription_link > l.hk_subscription_link)))
LEFT JOIN {{ ref('hub_customer') }} hc ON hc.hk_customer = l.hk_customer
LEFT JOIN {{ ref('hub_car') }} hr ON hr.hk_car = l.hk_car
WHERE {{ is_latest('sat_subscription', 'hk_subscription', 's') }}
