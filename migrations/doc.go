// Package migrations holds Gatehouse's versioned SQL migrations, one goose
// directory per dialect, generated from the ent schema by ./gen and embedded
// so the binary migrates its own database at start-up.
package migrations
