package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures OpenRedis.
type RedisConfig struct {
	// URL is redis://[user:password@]host:port/db (or rediss:// for TLS).
	// Required.
	URL string
	// Prefix starts every key, so that several deployments (or tests) can
	// share one server. Defaults to "gatehouse:rl:".
	Prefix string
	// Timeout bounds connecting and each command, so that an unreachable
	// server costs a sign-in little. Defaults to 250ms.
	Timeout time.Duration
	// Now, when set, is the clock (tests). Otherwise the server's clock
	// is used, so that nodes whose clocks differ still agree.
	Now func() time.Time
}

// Redis is a Limiter whose counters live in Redis, shared by every node.
// Each Attempt and each settlement is one Lua script, so it is atomic
// across nodes. A key is a hash with fields c (count), l (last attempt, ms)
// and u (blocked until, ms), expiring once it is forgotten.
type Redis struct {
	client *redis.Client
	prefix string
	now    func() time.Time
}

var _ Limiter = (*Redis)(nil)

// OpenRedis parses c.URL and returns the Limiter; it does not connect
// until first used (see Ping).
func OpenRedis(c RedisConfig) (*Redis, error) {
	opts, err := redis.ParseURL(c.URL)
	var bad *url.Error
	if errors.As(err, &bad) {
		// url's error quotes the URL, password included.
		return nil, errors.New("parse redis URL: not a valid URL")
	}
	if err != nil {
		return nil, fmt.Errorf("parse redis URL: %w", err)
	}
	if c.Timeout <= 0 {
		c.Timeout = 250 * time.Millisecond
	}
	if c.Prefix == "" {
		c.Prefix = "gatehouse:rl:"
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = c.Timeout, c.Timeout, c.Timeout
	opts.MaxRetries = -1 // an unreachable server must fail fast; Failover retries later
	opts.DisableIdentity = true
	return &Redis{client: redis.NewClient(opts), prefix: c.Prefix, now: c.Now}, nil
}

// Ping checks that the server answers.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }

// Shared by both scripts: now from ARGV[1], or the server's clock when 0.
const luaNow = `
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// attemptScript: KEYS are the counters; ARGV[1] is now (ms), then per
// key: free, base, max, forget (ms). Returns the wait in ms (0: counted).
var attemptScript = redis.NewScript(luaNow + `
local wait, last = 0, {}
for i, k in ipairs(KEYS) do
  local o = 1 + (i - 1) * 4
  local forget = tonumber(ARGV[o + 4])
  local v = redis.call('HMGET', k, 'l', 'u')
  local l, u = tonumber(v[1] or '0'), tonumber(v[2] or '0')
  last[i] = l
  if now - l <= forget and u - now > wait then wait = u - now end
end
if wait > 0 then return wait end
for i, k in ipairs(KEYS) do
  local o = 1 + (i - 1) * 4
  local free, base, max, forget = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  if now - last[i] > forget then redis.call('DEL', k) end
  local c = redis.call('HINCRBY', k, 'c', 1)
  redis.call('HSET', k, 'l', now, 'f', free)
  local over = c - free
  local d = 0
  if over >= 40 then d = max elseif over >= 0 then d = math.floor(math.min(max, base * 2 ^ over)) end
  if d > 0 then redis.call('HSET', k, 'u', now + d) end
  redis.call('PEXPIRE', k, math.max(forget, d) + 60000)
end
return 0
`)

// settleScript: KEYS are the counters; ARGV[1] is now (ms), then per key
// "f" (forget) or "r" (refund one attempt) and forget (ms).
var settleScript = redis.NewScript(luaNow + `
for i, k in ipairs(KEYS) do
  local o = 1 + (i - 1) * 2
  local mode, forget = ARGV[o + 1], tonumber(ARGV[o + 2])
  local v = redis.call('HMGET', k, 'l', 'f')
  local l, free = tonumber(v[1] or '0'), tonumber(v[2] or '0')
  if now - l <= forget then
    if mode == 'f' then
      redis.call('DEL', k)
    else
      local c = redis.call('HINCRBY', k, 'c', -1)
      if c <= 0 then
        redis.call('DEL', k)
      elseif c < free then
        redis.call('HDEL', k, 'u')
      end
    end
  end
end
return 0
`)

func (r *Redis) nowArg() int64 {
	if r.now == nil {
		return 0
	}
	return r.now().UnixMilli()
}

// Attempt implements Limiter.
func (r *Redis) Attempt(ctx context.Context, keys ...Key) (*Reservation, time.Duration, error) {
	keys = normalize(keys)
	names := make([]string, len(keys))
	args := []any{r.nowArg()}
	for i, k := range keys {
		names[i] = r.prefix + k.Name
		p := k.Policy
		args = append(args, p.Free, p.Base.Milliseconds(), p.Max.Milliseconds(), p.Forget.Milliseconds())
	}
	wait, err := attemptScript.Run(ctx, r.client, names, args...).Int64()
	if err != nil {
		return nil, 0, fmt.Errorf("count attempt in redis: %w", err)
	}
	if wait > 0 {
		return nil, time.Duration(wait) * time.Millisecond, nil
	}
	return &Reservation{keys: keys, s: r}, 0, nil
}

func (r *Redis) settle(ctx context.Context, keys []Key, success bool) error {
	names := make([]string, len(keys))
	args := []any{r.nowArg()}
	for i, k := range keys {
		names[i] = r.prefix + k.Name
		mode := "r"
		if success && !k.Policy.KeepOnSuccess {
			mode = "f"
		}
		args = append(args, mode, k.Policy.Forget.Milliseconds())
	}
	if err := settleScript.Run(ctx, r.client, names, args...).Err(); err != nil {
		return fmt.Errorf("settle attempt in redis: %w", err)
	}
	return nil
}

// RouteRedisLogs sends the Redis client's own messages (a failed dial,
// say), which it otherwise prints to stderr with the standard logger, to
// logger at debug level: Failover already logs each outage once. The
// setting is process-wide, as the client's logger is.
func RouteRedisLogs(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger})
}

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
