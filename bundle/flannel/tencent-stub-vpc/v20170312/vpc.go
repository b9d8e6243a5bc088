// Package v20170312 stands in for Tencent Cloud's VPC SDK, which the Go
// module proxy does not serve. flanneld's main package links its
// tencent-vpc backend; kubestrap uses the vxlan backend, so this stub only
// declares what that backend's code refers to, and every call fails.
package v20170312

import "errors"

var errStub = errors.New("the tencent-vpc backend is not available in kubestrap's flanneld build; use vxlan")

// Client is the VPC API client.
type Client struct{}

// NewClientWithSecretId returns a client whose calls all fail.
func NewClientWithSecretId(secretID, secretKey, region string) (*Client, error) { //nolint:revive // upstream's name
	return &Client{}, errStub
}

// Filter narrows a query.
type Filter struct {
	Name   *string
	Values []*string
}

// Route is a VPC route.
type Route struct {
	DestinationCidrBlock *string
	GatewayType          *string
	GatewayId            *string //nolint:revive // upstream's name
	RouteType            *string
	Enabled              *bool
	RouteId              *uint64 //nolint:revive // upstream's name
}

// RouteTable is a VPC route table.
type RouteTable struct {
	RouteTableId *string //nolint:revive // upstream's name
	RouteSet     []*Route
}

// DescribeRouteTablesRequest lists route tables.
type DescribeRouteTablesRequest struct{ Filters []*Filter }

// DescribeRouteTablesResponse holds route tables.
type DescribeRouteTablesResponse struct {
	Response *struct{ RouteTableSet []*RouteTable }
}

// DeleteRoutesRequest deletes routes.
type DeleteRoutesRequest struct {
	RouteTableId *string //nolint:revive // upstream's name
	Routes       []*Route
}

// CreateRoutesRequest creates routes.
type CreateRoutesRequest struct {
	RouteTableId *string //nolint:revive // upstream's name
	Routes       []*Route
}

// NewDescribeRouteTablesRequest makes a request.
func NewDescribeRouteTablesRequest() *DescribeRouteTablesRequest {
	return &DescribeRouteTablesRequest{}
}

// NewDeleteRoutesRequest makes a request.
func NewDeleteRoutesRequest() *DeleteRoutesRequest { return &DeleteRoutesRequest{} }

// NewCreateRoutesRequest makes a request.
func NewCreateRoutesRequest() *CreateRoutesRequest { return &CreateRoutesRequest{} }

// DescribeRouteTables fails.
func (c *Client) DescribeRouteTables(*DescribeRouteTablesRequest) (*DescribeRouteTablesResponse, error) {
	return nil, errStub
}

// DeleteRoutes fails.
func (c *Client) DeleteRoutes(*DeleteRoutesRequest) (any, error) { return nil, errStub }

// CreateRoutes fails.
func (c *Client) CreateRoutes(*CreateRoutesRequest) (any, error) { return nil, errStub }
