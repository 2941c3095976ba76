-- materialized: incremental
-- description: customer descriptive history (addresses move); a new row only when the hashdiff changes
-- tests: not_null(hk_customer, load_date, hashdiff); unique(hk_customer, load_date); relationships(hk_customer, hub_customer.hk_customer)
{{ sat(hash_key='hk_customer', entity='customers') }}
