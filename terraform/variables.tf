# Inputs of the kvd deployment. Only ssh_key_name, operator_cidr and release_url have no default;
# terraform.tfvars.example shows them set.

variable "name" {
  description = "Prefix of every resource's name and Name tag (one deployment per name and region)."
  type        = string
  default     = "kvd"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name))
    error_message = "name: a lowercase letter, then up to 19 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  description = "AWS region to deploy in."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region: an AWS region name such as us-east-1."
  }
}

variable "availability_zone" {
  description = "Availability zone of the subnet, so of every instance (one zone keeps the cluster's round trips short). Must be in region."
  type        = string
  default     = "us-east-1a"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]$", var.availability_zone))
    error_message = "availability_zone: a zone name such as us-east-1a."
  }
}

variable "node_count" {
  description = "Number of kvd nodes, one EC2 instance each. Their private IPs are cidrhost(subnet_cidr, 10 + i), so subnet_cidr must hold 10 + node_count + bench_count + 2 addresses."
  type        = number
  default     = 20

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 250 && floor(var.node_count) == var.node_count
    error_message = "node_count: a whole number from 1 to 250."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the kvd nodes (x86_64: the AMI is amd64)."
  type        = string
  default     = "c7i.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type: an EC2 instance type such as c7i.large."
  }
}

variable "bench_count" {
  description = "Number of benchmark hosts (Java 17, the release and the servers file; no kvd service) that run kvbench and kvctl inside the VPC. 0 for none."
  type        = number
  default     = 1

  validation {
    condition     = var.bench_count >= 0 && var.bench_count <= 20 && floor(var.bench_count) == var.bench_count
    error_message = "bench_count: a whole number from 0 to 20."
  }
}

variable "bench_instance_type" {
  description = "EC2 instance type of the benchmark hosts (x86_64)."
  type        = string
  default     = "c7i.2xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.bench_instance_type))
    error_message = "bench_instance_type: an EC2 instance type such as c7i.2xlarge."
  }
}

variable "ami_ssm_parameter" {
  description = "Public SSM parameter holding the AMI id of the OS image: Debian 12 (bookworm) amd64, whose login user is admin. For Ubuntu 22.04 use /aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id and ssh_user = \"ubuntu\"."
  type        = string
  default     = "/aws/service/debian/release/12/latest/amd64"

  validation {
    condition     = startswith(var.ami_ssm_parameter, "/aws/service/")
    error_message = "ami_ssm_parameter: a public SSM parameter name, starting with /aws/service/."
  }
}

variable "ssh_user" {
  description = "Login user of the AMI, used in the commands the outputs print (admin on Debian, ubuntu on Ubuntu)."
  type        = string
  default     = "admin"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]*$", var.ssh_user))
    error_message = "ssh_user: a Unix user name."
  }
}

variable "ssh_key_name" {
  description = "Name of an existing EC2 key pair in region, installed for ssh_user on every instance."
  type        = string

  validation {
    condition     = length(var.ssh_key_name) > 0
    error_message = "ssh_key_name: the name of an EC2 key pair."
  }
}

variable "operator_cidr" {
  description = "The only source allowed to SSH to the instances (and to reach the metrics port): your address as a /32, e.g. 203.0.113.7/32."
  type        = string

  validation {
    condition     = can(cidrhost(var.operator_cidr, 0)) && var.operator_cidr != "0.0.0.0/0"
    error_message = "operator_cidr: an IPv4 CIDR block narrower than 0.0.0.0/0 (SSH is never open to the world)."
  }
}

variable "client_cidr" {
  description = "Source allowed to reach the kvd UDP port besides the cluster's own members and bench hosts (kvd has no authentication: keep it private)."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.client_cidr, 0))
    error_message = "client_cidr: an IPv4 CIDR block."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr: an IPv4 CIDR block."
  }
}

variable "subnet_cidr" {
  description = "CIDR block of the one public subnet, inside vpc_cidr. Nodes take hosts 10, 11, ... of it and bench hosts the last ones (below the broadcast address); a /23 holds 250 nodes and 20 bench hosts."
  type        = string
  default     = "10.42.0.0/23"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr: an IPv4 CIDR block."
  }
}

variable "kvd_port" {
  description = "UDP port every kvd node listens on (the same on every host)."
  type        = number
  default     = 43100

  validation {
    condition     = var.kvd_port >= 1024 && var.kvd_port <= 65535 && floor(var.kvd_port) == var.kvd_port
    error_message = "kvd_port: an unprivileged port, 1024 to 65535."
  }
}

variable "kvd_heap" {
  description = "Maximum heap of each kvd JVM (KVD_HEAP, -Xmx): the node's whole memory budget derives from it. The unit's MemoryMax=320M suits heaps up to about 128m."
  type        = string
  default     = "64m"

  validation {
    condition     = can(regex("^[1-9][0-9]*[kmgKMG]$", var.kvd_heap))
    error_message = "kvd_heap: a JVM size such as 64m or 1g."
  }
}

variable "kvd_opts" {
  description = "Extra options of every kvd node (KVD_OPTS in /etc/kvd/kvd.env), e.g. \"--log-level DEBUG\" (the module adds --metrics-port itself). Empty by default."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9 ._,:=/+-]*$", var.kvd_opts))
    error_message = "kvd_opts: options made of letters, digits, spaces and ._,:=/+- only."
  }
}

variable "client_admin" {
  description = "kvd --client-admin on every node: \"off\" (the default) refuses SHUTDOWN and WIPEOUT from the client protocol, so only kvctl with the cluster key can stop or wipe a node (over the authenticated admin path); \"open\" honours them from any client, as course test harnesses need."
  type        = string
  default     = "off"

  validation {
    condition     = can(regex("^(open|off)$", var.client_admin))
    error_message = "client_admin: open or off."
  }
}

variable "metrics_port" {
  description = "TCP port of kvd's Prometheus endpoint (kvd --metrics-port, added to every node's options), opened to operator_cidr only. 0 turns the endpoint off and opens nothing."
  type        = number
  default     = 9404

  validation {
    condition     = var.metrics_port == 0 || (var.metrics_port >= 1024 && var.metrics_port <= 65535 && floor(var.metrics_port) == var.metrics_port)
    error_message = "metrics_port: 0, or a port from 1024 to 65535."
  }
}

variable "release_url" {
  description = "Where the instances fetch the release that `mvn package` builds as dist/target/kvd-VERSION-release.tar.gz: an https:// URL (curl) or an s3://BUCKET/KEY URI (aws s3 cp, allowed by an instance profile this module creates)."
  type        = string

  validation {
    condition     = can(regex("^(https?|s3)://[A-Za-z0-9._~:/?#@!&+,;=%-]+$", var.release_url))
    error_message = "release_url: an http(s):// URL or an s3:// URI, without spaces or quotes."
  }
}

variable "placement_group" {
  description = "Put the nodes and bench hosts in a cluster placement group (lower, steadier latency; a large launch may fail with InsufficientInstanceCapacity)."
  type        = bool
  default     = false
}

variable "root_volume_size" {
  description = "Size in GiB of each instance's root volume (gp3, encrypted)."
  type        = number
  default     = 8

  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 1024
    error_message = "root_volume_size: 8 to 1024 GiB."
  }
}
