package user

import (
	"bufio"
	_ "embed"
	"strings"
)

//go:embed common-passwords.txt
var commonPasswordList string

// commonPasswords is the bundled list, lower-cased.
var commonPasswords = func() map[string]bool {
	set := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonPasswordList))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			set[strings.ToLower(line)] = true
		}
	}
	return set
}()

// IsCommonPassword reports whether password is on the bundled list of
// common passwords, ignoring case.
func IsCommonPassword(password string) bool {
	return commonPasswords[strings.ToLower(password)]
}
