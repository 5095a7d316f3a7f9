package connectors

// Waiting counts the callers of r.Connector waiting on a build another
// caller began.
func Waiting(r *Registry) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.inflight {
		n += f.waiters
	}
	return n
}
