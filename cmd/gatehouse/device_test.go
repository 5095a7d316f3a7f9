package main

import (
	"bytes"
	"testing"
)

// Each master key gives its own device-cookie key, the same before and
// after a rotation puts a new master key in front of it: cookies signed
// before the rotation still verify (web accepts any of the keys).
func TestDeviceKeysSurviveRotation(t *testing.T) {
	oldMaster, newMaster := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	before, err := deviceKeys([][]byte{oldMaster})
	if err != nil {
		t.Fatal(err)
	}
	after, err := deviceKeys([][]byte{newMaster, oldMaster})
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 1 || len(after) != 2 {
		t.Fatalf("%d keys before, %d after; want 1 and 2", len(before), len(after))
	}
	if !bytes.Equal(after[1], before[0]) {
		t.Error("the old master key's device key changed with the rotation")
	}
	if bytes.Equal(after[0], before[0]) || bytes.Equal(after[0], newMaster) || bytes.Equal(before[0], oldMaster) {
		t.Error("the device keys are not derived apart from their master keys")
	}
}
