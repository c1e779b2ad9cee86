-- Normalizers per namespace, and their errors.
\set VERBOSITY terse
SELECT ns, v, customer_profile.identity_normalize(ns, v)
  FROM (VALUES ('email', '  Ann.Lee@Example.COM '),
               ('email', 'x@sub.example.org'),
               ('phone', '(202) 456-1111'),
               ('phone', '+44 20 7946 0958'),
               ('phone', '+49 30 901820'),
               ('crm_id', '  C-42  '),
               ('device_id', 'AB12-CD34'),
               ('cookie', ' c-19 ')) AS t(ns, v);

SELECT ns, v, regress.err(format('SELECT customer_profile.identity_normalize(%L, %L)', ns, v))
  FROM (VALUES ('email', 'no-at-sign'),
               ('email', 'two@@x.com'),
               ('email', 'ann@localhost'),
               ('email', 'ann lee@x.com'),
               ('email', '@x.com'),
               ('email', 'ann@x..com'),
               ('phone', 'call me'),
               ('phone', '123'),
               ('crm_id', '   '),
               ('loyalty_card', '123')) AS t(ns, v);

SELECT regress.err($$SELECT customer_profile.identity_normalize('cookie', repeat('x', 5000))$$);
SELECT regress.err($$SELECT customer_profile.identity_normalize('email', repeat('x', 70) || '@x.com')$$);

-- Hashes: stable, salted per database, 32 bytes, equal for equal normalized values.
SELECT octet_length(customer_profile.identity_hash('email', 'ann@x.com')) AS hash_bytes,
       customer_profile.identity_hash('email', ' ANN@x.com') = customer_profile.identity_hash('email', 'ann@x.com') AS same_after_normalizing,
       customer_profile.identity_hash('email', 'ann@x.com') <> customer_profile.identity_hash('cookie', 'ann@x.com') AS namespace_is_hashed,
       customer_profile.identity_hash('email', 'ann@x.com') <> sha256('ann@x.com'::bytea) AS salted;

-- The default phone region is a setting; an unknown region is refused.
UPDATE customer_profile.settings SET default_phone_region = 'DE';
SELECT customer_profile.identity_normalize('phone', '030 901820');
SELECT regress.err($$UPDATE customer_profile.settings SET default_phone_region = 'XX'$$);
UPDATE customer_profile.settings SET default_phone_region = 'US';
SELECT customer_profile.identity_normalize('phone', '202-456-1111');
