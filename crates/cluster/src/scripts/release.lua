-- Steps down: deletes the lease only if this instance holds it with this epoch (a plain
-- DEL could free a lease another instance took meanwhile), and hints the others to take
-- it at once.
-- KEYS: 1 leader, 2 lease
-- ARGV: 1 instance id, 2 epoch, 3 channel, 4 hint JSON
-- Returns 1 when released, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
