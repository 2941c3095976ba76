-- materialized: incremental
-- description: customer descriptive history (addresses move); a new row only when the hashdiff changes
-- tests: relationships(hk_customer, hub_customer.hk_customer); accepted_values(type, 'b2b', 'b2c')
{{ sat(hash_key='hk_customer', entity='customers') }}
