-- description: infleeted total over the days the run wrote = cars registered on those days
SELECT m.n AS mart_total, s.n AS registered
FROM (SELECT coalesce(sum(cnt), 0) AS n FROM {{ ref('infleeted_cars_volumes') }} WHERE day >= :start_day) m,
     (SELECT count(*) AS n FROM {{ ref('car_timeline') }} WHERE registration_day >= :start_day) s
WHERE m.n <> s.n
