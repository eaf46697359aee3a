"""What the server reports about its host: process figures (/stats), GeoIP, ICMP echo state."""
