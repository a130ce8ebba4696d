package auth_test

import (
	"fmt"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
)

func ExampleVerifier() {
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte("an-example-secret-of-32-bytes!!!")})
	if err != nil {
		panic(err)
	}
	token, err := v.Issue("42", []string{"team:7"}, time.Hour)
	if err != nil {
		panic(err)
	}
	claims, err := v.Verify(token)
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.Subject, claims.AllChannels())
	// Output: 42 [user:42 team:7 broadcast]
}

func ExampleKeys() {
	keys, err := auth.NewKeys([]string{"publish-key-1", "publish-key-2"})
	if err != nil {
		panic(err)
	}
	key, ok := auth.BearerToken("Bearer publish-key-2")
	fmt.Println(ok, keys.Check(key), keys.Check("guess"))
	// Output: true true false
}
