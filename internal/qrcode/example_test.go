package qrcode_test

import (
	"fmt"

	"github.com/g90alarm/g90/internal/qrcode"
)

func ExampleEncode() {
	code, err := qrcode.Encode([]byte("X-HM://0023ISYWYABCD"))
	if err != nil {
		panic(err)
	}
	fmt.Println(code.Version(), code.Size, code.Mask())
	// Output: 2 25 3
}
