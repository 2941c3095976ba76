-- materialized: view
-- description: the latest version of every customer, with the source's field names
{{ sat_current(sat='sat_customer', hub='hub_customer', hash_key='hk_customer', business_key='customer_id', entity='customers') }}
