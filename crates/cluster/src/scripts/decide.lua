-- Writes a decision, fenced: only the holder of the current lease, with the lease's
-- epoch, on top of the exact record it decided from.
-- KEYS: 1 leader, 2 lease, 3 decision record, 4 override request
-- ARGV: 1 instance id, 2 epoch, 3 expected seq (of the current record; 0 = none),
--       4 new seq, 5 record JSON, 6 channel, 7 override id to consume ('' = none),
--       8 override JSON to restore ('' = none), 9 its ttl (ms; '0' = none)
-- Returns {1, receivers} when written and published, else {0, why}: 'not_leader',
-- 'fenced' (the lease has another epoch, or none), 'stale' (the record has a newer
-- epoch), 'conflict' (the record changed since it was read).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0, 'not_leader'}
end
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return {0, 'fenced'}
end
local epoch = tonumber(ARGV[2])
local current_epoch, current_seq = 0, 0
local current = redis.call('GET', KEYS[3])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' then
    current_epoch = tonumber(decoded['epoch']) or 0
    current_seq = tonumber(decoded['seq']) or 0
  end
end
if current_epoch > epoch then
  return {0, 'stale'}
end
if current_seq ~= tonumber(ARGV[3]) or tonumber(ARGV[4]) <= current_seq then
  return {0, 'conflict'}
end
redis.call('SET', KEYS[3], ARGV[5])
if ARGV[7] ~= '' then
  local pending = redis.call('GET', KEYS[4])
  if pending then
    local ok, decoded = pcall(cjson.decode, pending)
    if ok and type(decoded) == 'table' and decoded['id'] == ARGV[7] then
      redis.call('DEL', KEYS[4])
    end
  end
end
if ARGV[8] ~= '' then
  if ARGV[9] ~= '0' then
    redis.call('SET', KEYS[4], ARGV[8], 'PX', ARGV[9])
  else
    redis.call('SET', KEYS[4], ARGV[8])
  end
end
return {1, redis.call('PUBLISH', ARGV[6], ARGV[5])}
