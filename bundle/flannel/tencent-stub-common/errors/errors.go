// Package errors stands in for Tencent Cloud's SDK error type.
package errors

// TencentCloudSDKError is an API error.
type TencentCloudSDKError struct{ Message string }

func (e *TencentCloudSDKError) Error() string { return e.Message }
