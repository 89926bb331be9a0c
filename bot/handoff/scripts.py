"""Lua scripts of the ticket store (``bot/handoff/queue.py``), each one atomic in Redis."""

# KEYS: owner, ticket, brand queue, all, conversation tickets, queue attrs, brands, handoff counts, claimed
# ARGV: ticket id, ticket json, queue score, created ms, channel, brand channel, brand event json,
#       queue attrs json, brand, handoff counts field, '1' to queue it (a waiting ticket; else it is claimed:
#       a person answered in Meta's inbox)
CREATE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[11] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  redis.call('HSET', KEYS[6], ARGV[1], ARGV[8])
else
  redis.call('SADD', KEYS[9], ARGV[1])
end
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('SADD', KEYS[7], ARGV[9])
redis.call('HINCRBY', KEYS[8], ARGV[10], 1)
redis.call('PUBLISH', ARGV[5], 'created:' .. ARGV[1])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {1, ARGV[1]}
"""

# KEYS: brand queue, queue attrs
# ARGV: min score, max score, channel, language, team, offset, limit
# Returns {number of matching tickets, ids of the requested page}.
FILTER = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])
local filtered = ARGV[3] ~= '' or ARGV[4] ~= '' or ARGV[5] ~= ''
local offset, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local total, page = 0, {}
for _, id in ipairs(ids) do
  local match = true
  if filtered then
    local raw = redis.call('HGET', KEYS[2], id)
    if not raw then
      match = false
    else
      local a = cjson.decode(raw)
      match = (ARGV[3] == '' or a.channel == ARGV[3]) and (ARGV[4] == '' or a.language == ARGV[4])
        and (ARGV[5] == '' or a.team == ARGV[5])
    end
  end
  if match then
    total = total + 1
    if total > offset and #page < limit then page[#page + 1] = id end
  end
end
return {total, page}
"""
