-- materialized: incremental
-- description: subscription descriptive history; a new row only when the hashdiff changes
-- tests: accepted_values(term_month, 'six', 'twelve')
-- test_scope: load_date = :load_date
{{ sat(hash_key='hk_subscription', entity='subscriptions', real=['monthly_rate']) }}
