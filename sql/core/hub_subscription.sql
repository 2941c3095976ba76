-- materialized: incremental
-- description: one row per subscription business key ever seen
{{ hub(hash_key='hk_subscription', business_key='subscription_id', sources=['subscriptions.id']) }}
