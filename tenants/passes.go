package tenants

import (
	"context"
	"time"

	"github.com/gatehouse-id/gatehouse/tenants/viewer"
)

// runPasses is the loop of the periodic jobs cmd starts on every node
// (RunDomainChecks, RunMetadataRefresh): pass as the system now and then
// every period (an hour when every is not positive), pass after pass
// while one reports more due, until ctx is done. A failed pass is logged
// as "<what> failed" and retried at the next tick.
func (s *Service) runPasses(ctx context.Context, every time.Duration, what string, pass func(sys context.Context) (more bool, err error)) {
	if every <= 0 {
		every = time.Hour
	}
	sys := viewer.SystemContext(ctx)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for {
			more, err := pass(sys)
			if err != nil {
				if ctx.Err() == nil {
					s.logger().WarnContext(ctx, what+" failed", "error", err)
				}
				break
			}
			if !more {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
