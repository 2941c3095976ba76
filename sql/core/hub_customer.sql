-- materialized: incremental
-- description: one row per customer business key ever seen (customers, and customers referenced by subscriptions)
{{ hub(hash_key='hk_customer', business_key='customer_id', sources=['customers.id', 'subscriptions.customer_id']) }}
