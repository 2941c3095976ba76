-- materialized: incremental
-- description: one row per subscription business key ever seen
-- tests: not_null(hk_subscription, subscription_id, load_date); unique(hk_subscription)
{{ hub(hash_key='hk_subscription', business_key='subscription_id', sources=['subscriptions.id']) }}
