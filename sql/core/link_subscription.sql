-- materialized: incremental
-- description: subscription -> customer, car; one row per distinct combination ever seen
-- test_scope: load_date = :load_date
-- tests: relationships(hk_subscription, hub_subscription.hk_subscription); relationships(hk_customer, hub_customer.hk_customer); relationships(hk_car, hub_car.hk_car)
{{ link(hash_key='hk_subscription_link', source='subscriptions', keys=['hk_subscription', 'hk_customer', 'hk_car'], required=['customer_id', 'car_id']) }}
