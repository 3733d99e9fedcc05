// Package pkg holds nothing itself; its sub-packages are the pieces that two
// or more services of the support system really share.
package pkg
