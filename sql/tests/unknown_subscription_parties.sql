-- severity: warn
-- description: subscriptions whose customer or car is unknown (not in the current satellites); they count in no mart. A warning, not a failure: the marts define this case, and blocking them would stop every report for one bad source row.
-- The subscriptions missing from the timeline are found first, walking the hub and the timeline in
-- the same key order; only those few go through the current view.
SELECT s.id, s.customer_id, s.car_id,
       CASE WHEN NOT EXISTS (SELECT 1 FROM {{ ref('customer_profile') }} c WHERE c.hk_customer = s.hk_customer) THEN 'unknown customer' ELSE 'unknown car' END AS reason
FROM {{ ref('sat_subscription_current') }} s
WHERE s.hk_subscription IN (
  SELECT h.hk_subscription FROM {{ ref('hub_subscription') }} h
  WHERE NOT EXISTS (SELECT 1 FROM {{ ref('subscription_timeline') }} t WHERE t.hk_subscription = h.hk_subscription)
)
