-- materialized: incremental
-- description: subscription descriptive history; a new row only when the hashdiff changes
-- tests: relationships(hk_subscription, hub_subscription.hk_subscription); accepted_values(term_month, 'six', 'twelve')
{{ sat(hash_key='hk_subscription', entity='subscriptions', real=['monthly_rate']) }}
