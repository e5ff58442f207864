module kuorum.dev/bench/loadgen

go 1.26
