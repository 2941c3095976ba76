-- materialized: keyed
-- description: every current subscription whose customer and car are known, with its customer's current type and city, its car's brand and its active days [start_day, end_day); what the subscription marts read
-- columns: hk_subscription TEXT NOT NULL, id TEXT NOT NULL, customer_id TEXT NOT NULL, car_id TEXT NOT NULL, brand TEXT, customer_type TEXT, address_city TEXT, term_month TEXT, start_day TEXT, end_day TEXT, start_month TEXT, last_month TEXT
-- primary_key: hk_subscription
-- indexes: start_day, address_city; last_month
-- end_day = start day + term months, clamped to the target month's last day (Aug 31 + 6 months =
-- Feb 29 in a leap year); the subscription is active in every month from its start month to the
-- month of end_day - 1 day. An unknown term has no end_day and is active in no month.
-- Keyed: a run re-derives only the subscriptions whose own rows changed since the last run (satellite
-- or link) and those linked to a customer or car whose satellite changed (the second statement).
SELECT v.hk_subscription, v.id, v.customer_id, v.car_id, v.brand, v.customer_type, v.address_city, v.term_month, v.start_day, v.end_day,
       {{ month_start('v.start_day') }} AS start_month,
       {{ month_start('v.last_day') }} AS last_month
FROM (
  SELECT u.*, {{ add_days('u.end_day', -1) }} AS last_day
  FROM (
    SELECT t.*, {{ add_months_clamped('t.start_day', 't.term_months') }} AS end_day
    FROM (
      SELECT s.hk_subscription, s.id, c.id AS customer_id, r.id AS car_id, r.brand, c.type AS customer_type, c.address_city, s.term_month,
             {{ day('s.start_date') }} AS start_day,
             CASE s.term_month WHEN 'six' THEN 6 WHEN 'twelve' THEN 12 END AS term_months
      FROM {{ ref('sat_subscription_current') }} s
      JOIN {{ ref('customer_profile') }} c ON c.hk_customer = s.hk_customer
      JOIN {{ ref('car_timeline') }} r ON r.hk_car = s.hk_car
    ) t
  ) u
) v;

SELECT s.hk_subscription FROM {{ ref('sat_subscription') }} s WHERE s.load_date IN {{ loads('sat_subscription') }}
UNION ALL
SELECT l.hk_subscription FROM {{ ref('link_subscription') }} l WHERE l.load_date IN {{ loads('link_subscription') }}
UNION ALL
SELECT l.hk_subscription FROM {{ ref('link_subscription') }} l
WHERE l.hk_customer IN (SELECT c.hk_customer FROM {{ ref('sat_customer') }} c WHERE c.load_date IN {{ loads('sat_customer') }})
UNION ALL
SELECT l.hk_subscription FROM {{ ref('link_subscription') }} l
WHERE l.hk_car IN (SELECT r.hk_car FROM {{ ref('sat_car') }} r WHERE r.load_date IN {{ loads('sat_car') }})
;

-- The same rows as the first statement, built whole in key order, on SQLite only (PostgreSQL
-- hash-joins the first): the subscriptions sorted by customer key look their customer up, then sorted
-- by car key their car, so each lookup reads the next pages of customer_profile or car_timeline
-- instead of a random page per row (a million subscriptions: 22.8 s of CPU as one join,
-- docs/design/warehouse-memory.md). Temporary tables keep the sorted order (SQLite drops a
-- subquery's ORDER BY under a join); CROSS JOIN keeps SQLite's join order, the sorted table first.
-- Each day is computed once and stored in the temporary tables: SQLite flattens the first
-- statement's nested subqueries and so evaluates each date expression once per use, some 18 date
-- functions a row (2.1 s of the build's 2.5 s SELECT, without its sort), against 7 here.
CREATE TEMP TABLE subscription_timeline_by_customer AS
SELECT s.hk_subscription, s.id, s.hk_customer, s.hk_car, s.term_month, {{ day('s.start_date') }} AS start_day,
       CASE s.term_month WHEN 'six' THEN 6 WHEN 'twelve' THEN 12 END AS term_months
FROM {{ ref('sat_subscription_current') }} s
ORDER BY s.hk_customer;

CREATE TEMP TABLE subscription_timeline_by_car AS
SELECT b.hk_subscription, b.id, b.hk_car, b.term_month, b.start_day, c.id AS customer_id, c.type AS customer_type, c.address_city,
       {{ add_months_clamped('b.start_day', 'b.term_months') }} AS end_day
FROM temp.subscription_timeline_by_customer b CROSS JOIN {{ ref('customer_profile') }} c ON c.hk_customer = b.hk_customer
ORDER BY b.hk_car;

SELECT b.hk_subscription, b.id, b.customer_id, r.id AS car_id, r.brand, b.customer_type, b.address_city, b.term_month, b.start_day, b.end_day,
       {{ month_start('b.start_day') }} AS start_month,
       {{ month_start('b.last_day') }} AS last_month
FROM (SELECT x.*, {{ add_days('x.end_day', -1) }} AS last_day FROM temp.subscription_timeline_by_car x) b
CROSS JOIN {{ ref('car_timeline') }} r ON r.hk_car = b.hk_car
