-- materialized: incremental
-- description: subscription descriptive history; a new row only when the hashdiff changes
-- tests: not_null(hk_subscription, load_date, hashdiff); unique(hk_subscription, load_date); relationships(hk_subscription, hub_subscription.hk_subscription)
{{ sat(hash_key='hk_subscription', entity='subscriptions', real=['monthly_rate']) }}
