-- materialized: table
-- description: the number of subscriptions per term (six, twelve) by the subscribing customer's type (b2b, b2c); rebuilt whole
-- columns: term TEXT NOT NULL, b2b_distribution INTEGER NOT NULL, b2c_distribution INTEGER NOT NULL
-- primary_key: term
-- tests: accepted_values(term, 'six', 'twelve')
SELECT term_month AS term,
       sum(CASE WHEN customer_type = 'b2b' THEN 1 ELSE 0 END) AS b2b_distribution,
       sum(CASE WHEN customer_type = 'b2c' THEN 1 ELSE 0 END) AS b2c_distribution
FROM {{ ref('subscription_timeline') }}
WHERE term_month IS NOT NULL
GROUP BY term_month
HAVING sum(CASE WHEN customer_type IN ('b2b', 'b2c') THEN 1 ELSE 0 END) > 0
