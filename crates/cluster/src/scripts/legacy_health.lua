-- The original's `publish_health`, plus the members index, so a replica using the
-- legacy API counts as a member of the coordinated cluster.
-- KEYS: 1 heartbeat key (`P:health:{id}`), 2 members index
-- ARGV: 1 instance id, 2 heartbeat JSON, 3 ttl (ms)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], string.format('%d', now + tonumber(ARGV[3])), ARGV[1])
return 1
