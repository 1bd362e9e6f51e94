"""What an NGA runs on its side: seal carnets for their holders and send them (Kafka or HTTP), and the `ata` CLI."""
