module github.com/kubestrap/kubestrap/bundle/small

go 1.25.0
