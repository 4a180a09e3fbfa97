-- Acquires the leader lease and issues its fencing epoch.
-- KEYS: 1 leader, 2 lease, 3 epoch counter, 4 decision record
-- ARGV: 1 instance id, 2 lease ttl (ms), 3 floor (the newest epoch the caller knows of)
-- Returns {epoch, holder}: epoch 0 when another instance holds the lease.
--
-- The leader key holds the instance id alone, as the original's `leader_election` wrote
-- it, so older replicas keep reading and renewing it. An instance may take over a lease
-- its own id holds (a restart, or an acquire whose reply was lost): the new epoch fences
-- whatever the previous holder still sends. The epoch never goes back: it is above the
-- counter, the caller's floor and the record's epoch, and at least the server's clock in
-- milliseconds, so a server that restarts empty (or an evicted counter) does not hand out
-- an epoch issued before, even when no replica that saw it is left.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, holder}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local epoch = redis.call('INCR', KEYS[3])
local floor = math.max(tonumber(ARGV[3]) or 0, now - 1)
local record = redis.call('GET', KEYS[4])
if record then
  local ok, decoded = pcall(cjson.decode, record)
  if ok and type(decoded) == 'table' and tonumber(decoded['epoch']) then
    floor = math.max(floor, tonumber(decoded['epoch']))
  end
end
if epoch <= floor then
  epoch = floor + 1
  redis.call('SET', KEYS[3], string.format('%d', epoch))
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], string.format('%d', epoch), 'PX', ARGV[2])
return {epoch, ARGV[1]}
