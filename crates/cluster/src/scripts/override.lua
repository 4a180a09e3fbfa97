-- An operator's request (an override or a hold), or its release, plus a hint for the
-- leader on the channel.
-- KEYS: 1 override request
-- ARGV: 1 'set' or 'clear', 2 request JSON, 3 ttl (ms; '0' = none), 4 channel, 5 hint JSON
-- Returns 1 when set, else the number of requests deleted.
local result
if ARGV[1] == 'set' then
  if ARGV[3] ~= '0' then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  else
    redis.call('SET', KEYS[1], ARGV[2])
  end
  result = 1
else
  result = redis.call('DEL', KEYS[1])
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return result
