-- materialized: partition
-- partition_by: day
-- partition_column: delivery_date
-- description: subscriptions starting per day, by the subscribing customer's address_city at the time of the run
-- columns: delivery_date TEXT NOT NULL, city TEXT, deliveries_number INTEGER NOT NULL
-- indexes: delivery_date
-- tests: unique(delivery_date, city)
SELECT start_day AS delivery_date, address_city AS city, count(*) AS deliveries_number
FROM {{ ref('subscription_timeline') }}
WHERE start_day >= :start_day
GROUP BY start_day, address_city
