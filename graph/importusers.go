package graph

import (
	"context"

	"github.com/gatehouse-id/gatehouse/graph/model"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// MaxImportUsers is the most users one importUsers call takes; the CLI
// (gatehouse users import) streams larger files in calls of this size.
const MaxImportUsers = 1000

// importUsers passes the rows to tenants.ImportUsers and presents each
// refused row the way the error presenter presents a failed mutation:
// code, message and field (classify).
func (r *mutationResolver) importUsers(ctx context.Context, input model.ImportUsersInput) (*model.ImportUsersPayload, error) {
	if len(input.Users) > MaxImportUsers {
		return nil, &tenants.InputError{Field: "users", Reason: "must list at most 1000 users a call; split the import"}
	}
	rows := make([]tenants.ImportUser, len(input.Users))
	for i, u := range input.Users {
		rows[i] = tenants.ImportUser{Email: u.Email, Name: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName,
			OrganizationID: u.OrganizationID}
		if u.EmailVerified != nil {
			rows[i].EmailVerified = *u.EmailVerified
		}
		if u.PasswordHash != nil {
			rows[i].PasswordHash = *u.PasswordHash
		}
		if u.RoleKey != nil {
			rows[i].RoleKey = *u.RoleKey
		}
	}
	res, err := r.Service.ImportUsers(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := &model.ImportUsersPayload{Imported: res.Imported, Errors: make([]*model.ImportUserError, len(res.Errors))}
	for i, e := range res.Errors {
		code, msg, field := classify(e.Err)
		out.Errors[i] = &model.ImportUserError{Index: e.Index, Email: e.Email, Message: msg, Code: code}
		if field != "" {
			out.Errors[i].Field = &field
		}
	}
	return out, nil
}
