package tenants

// SetBeforeSpend makes s call f after a one-time code is checked and
// before it is spent, so a test can hold parallel attempts there.
func SetBeforeSpend(s *Service, f func()) { s.beforeSpend = f }
