-- The original's `renew_leadership`, verbatim in effect: extends the leader key (whole
-- seconds) if it holds this instance id.
-- KEYS: 1 leader
-- ARGV: 1 instance id, 2 ttl (s)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
