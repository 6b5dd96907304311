# Addresses, the servers file, and commands to paste. The commands run on the first bench host
# (the first node when bench_count = 0: run scp_servers_file_command first there), in the login
# user's home, where the bench host's cloud-init put servers.txt.

output "node_private_ips" {
  description = "Private IPs of the kvd nodes, in servers-file order."
  value       = aws_instance.node[*].private_ip
}

output "node_public_ips" {
  description = "Public IPs of the kvd nodes (SSH from operator_cidr only)."
  value       = aws_instance.node[*].public_ip
}

output "bench_private_ips" {
  description = "Private IPs of the bench hosts."
  value       = aws_instance.bench[*].private_ip
}

output "bench_public_ips" {
  description = "Public IPs of the bench hosts (SSH from operator_cidr only)."
  value       = aws_instance.bench[*].public_ip
}

output "servers_file" {
  description = "The cluster's servers file, one ip:port line per node, as written to /etc/kvd/servers.txt on every instance."
  value       = format("%s\n", join("\n", local.servers))
}

output "ssh_command" {
  description = "SSH to the host the other commands run on."
  value       = "ssh ${var.ssh_user}@${local.driver_ip}"
}

output "scp_servers_file_command" {
  description = "Saves the servers file here and copies it to the login user's home on the command host."
  value       = "terraform output -raw servers_file > servers.txt && scp servers.txt ${var.ssh_user}@${local.driver_ip}:servers.txt"
}

output "kvctl_members_command" {
  description = "Each node's view of the membership, through kvctl on the command host."
  value       = "ssh ${var.ssh_user}@${local.driver_ip} /opt/kvd/bin/kvctl --servers-file servers.txt members"
}

output "kvctl_shell_command" {
  description = "kvctl's interactive shell on the command host."
  value       = "ssh -t ${var.ssh_user}@${local.driver_ip} /opt/kvd/bin/kvctl --servers-file servers.txt"
}

output "kvbench_command" {
  description = "A 60 s benchmark, 90% GET and 10% PUT from 2048 clients, run on the command host; the report lands in run.json there."
  value       = "ssh ${var.ssh_user}@${local.driver_ip} /opt/kvd/bin/kvbench --servers-file servers.txt --clients 2048 --duration 60 --workload custom --mix get=90,put=10 --out run.json"
}

output "fetch_results_command" {
  description = "Copies the benchmark's report and percentile files here."
  value       = "scp '${var.ssh_user}@${local.driver_ip}:run.json' '${var.ssh_user}@${local.driver_ip}:run-*.hgrm' ."
}

output "node_log_command" {
  description = "The first node's kvd log (journald)."
  value       = "ssh ${var.ssh_user}@${aws_instance.node[0].public_ip} sudo journalctl -u kvd --no-pager -n 100"
}
