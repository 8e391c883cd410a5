from nightstream.local_kafka.cli import main

main()
