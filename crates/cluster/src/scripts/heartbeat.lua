-- One instance's heartbeat: writes its membership and vote, renews its lease if it leads,
-- and reads everything the protocol needs, in one round trip.
-- KEYS: 1 leader, 2 lease, 3 epoch counter, 4 decision record, 5 override request,
--       6 members index (sorted set: id -> expiry in server ms), 7 this instance's
--       heartbeat (`P:health:{id}`), 8 this instance's vote (`P:resilience:vote:{id}`)
-- ARGV: 1 instance id, 2 heartbeat JSON, 3 member ttl (ms), 4 vote JSON ('' = abstain),
--       5 vote ttl (ms), 6 epoch to renew ('0' = not leading), 7 lease ttl (ms),
--       8 list members ('1'/'0'), 9 heartbeat key prefix, 10 vote key prefix
-- Returns {now_ms, renewed, leader, lease epoch, lease pttl, epoch counter, decision,
--          override, override pttl, live members, [id, heartbeat, vote]...}
--
-- Members are listed by id. Time is the server's (TIME), one clock for every replica. Listing reads the keys of
-- members found in the index: with a hash tag in the prefix they share KEYS' slot.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', KEYS[7], ARGV[2], 'PX', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[8], ARGV[4], 'PX', ARGV[5])
end
redis.call('ZADD', KEYS[6], string.format('%d', now + tonumber(ARGV[3])), ARGV[1])
local renewed = 0
if ARGV[6] ~= '0' then
  if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[6] then
    redis.call('PEXPIRE', KEYS[1], ARGV[7])
    redis.call('PEXPIRE', KEYS[2], ARGV[7])
    renewed = 1
  end
end
local reply = {
  now,
  renewed,
  redis.call('GET', KEYS[1]),
  redis.call('GET', KEYS[2]),
  redis.call('PTTL', KEYS[1]),
  redis.call('GET', KEYS[3]),
  redis.call('GET', KEYS[4]),
  redis.call('GET', KEYS[5]),
  redis.call('PTTL', KEYS[5]),
  redis.call('ZCOUNT', KEYS[6], string.format('(%d', now), '+inf'),
}
if ARGV[8] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', string.format('%d', now))
  local ids = redis.call('ZRANGE', KEYS[6], 0, -1)
  table.sort(ids)
  for _, id in ipairs(ids) do
    local heartbeat = redis.call('GET', ARGV[9] .. id)
    if heartbeat then
      table.insert(reply, id)
      table.insert(reply, heartbeat)
      table.insert(reply, redis.call('GET', ARGV[10] .. id))
    end
  end
end
return reply
